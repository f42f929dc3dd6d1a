"""Strict concept rules: a correct explanation scores each concept, a fluent wrong one scores ~0.

The answers are hand-written: correct ones laid out the way tutors answer (Markdown headings,
bullets, bold labels), wrong ones in the style of the embedded 135M model's answers quoted in
issue 11. Loose patterns give the wrong ones credit; strict rules must not.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tutor.evaluate.concepts import Concept, Topic, sentences
from tutor.evaluate.heldout import HELDOUT
from tutor.evaluate.metrics import measure
from tutor.evaluate.topics import TOPICS


def topic(name: str) -> Topic:
    return next(t for t in TOPICS + HELDOUT if t.name == name)


CORRECT = {
    "Gradient descent": """
## What it does
Gradient descent trains a model by **minimizing the loss**: the loss function measures how far
the model's predictions are from the right answers.

## How one step works
1. Compute the gradient, the vector of partial derivatives of the loss with respect to each weight.
   It points in the direction of steepest increase, so we go the other way.
2. Update every parameter: `w = w - lr * grad`, i.e. we subtract a small multiple of the gradient.
3. The **learning rate** sets the step size: too big and we overshoot, too small and it crawls.

Repeat these updates until the loss stops going down. The derivative of the loss tells us how much
it changes when a weight changes.

Stochastic gradient descent uses a random mini-batch of examples instead of the whole data set.
""",
    "Transformers in machine learning": """
A transformer is a neural network that reads a whole sequence at once.

- The input text is split into tokens (words or pieces of words).
- Each token becomes an embedding, a vector of numbers.
- A positional encoding is added so the model knows the order of the tokens.

**Self-attention** lets each token look at all the other tokens. Every token makes a query, a key
and a value; the query is compared with every key by a dot product, and the softmax of those scores
says how much attention a token pays to each of the others. The output is a weighted sum of the values.

Multi-head attention runs several heads in parallel, each learning a different relation.
The encoder reads the input sentence, and the decoder generates the output one token at a time.
""",
    "The Pythagorean theorem": """
In a right triangle the two shorter sides (the legs) meet at the right angle, and the hypotenuse
is the longest side, opposite the right angle.

**The theorem:** a² + b² = c². The square of the hypotenuse equals the sum of the squares of the legs.

Example: legs 3 and 4 give 3² + 4² = 9 + 16 = 25, so the hypotenuse is 5.

It also gives the distance between two points: the square root of (x2 - x1)² + (y2 - y1)².
It is named after the Greek mathematician Pythagoras.
""",
    "Newton's laws of motion": """
1. **First law (inertia):** an object at rest stays at rest, and a moving object keeps moving at
   constant velocity, unless a net force acts on it. Inertia is this resistance to change.
2. **Second law:** F = ma. A force is a push or a pull; the acceleration is the change in velocity
   per second, and a bigger mass needs more force for the same acceleration.
3. **Third law:** every action has an equal and opposite reaction.

When the forces are balanced, the net force is zero and the velocity does not change.
""",
    "Recursion in programming": """
Recursion is when a function calls itself to solve a smaller version of the same problem.

- **Base case:** the simple input where the function returns directly without recursing.
- **Recursive case:** the function calls itself on a smaller input, such as n - 1.

```python
def factorial(n):
    if n == 0:
        return 1
    return n * factorial(n - 1)
```

Each call waits on the call stack until the call below it returns. Without a base case the
recursion never stops and Python raises RecursionError when the stack runs out.
""",
    "How TCP delivers data reliably": """
**TCP** gives two programs a reliable, ordered stream of bytes on top of IP, which is only best
effort: IP packets can be lost, duplicated or reordered.

1. **Connection setup.** A three-way handshake opens the connection: SYN, then SYN-ACK, then ACK.
2. **Sequence numbers** number every byte, so the receiver can reassemble segments in order and drop duplicates.
3. **Acknowledgements** tell the sender which bytes have arrived (the ACK names the next byte expected).
4. **Retransmission:** if no ACK comes back before the timer runs out, the sender resends the segment.
5. **Flow control:** the receiver advertises a window, how much buffer space it has, so a fast
   sender cannot overwhelm it.
6. **Congestion control:** slow start and halving the window after a loss keep the sender from flooding the network.

Because the receiver reorders by sequence number, data is delivered in the right order.
UDP, by contrast, has no handshake and no retransmission: it is connectionless and unreliable.
""",
    "Bayes' theorem": """
Bayes' theorem turns a conditional probability around:

P(H|E) = P(E|H) × P(H) / P(E)

- **Prior** P(H): how likely the hypothesis is before we see any evidence (the base rate).
- **Likelihood** P(E|H): the probability of the evidence if the hypothesis is true.
- **Evidence** P(E): the total probability of the evidence over all cases, which normalises the result.
- **Posterior** P(H|E): our updated belief after seeing the evidence.

Example: a disease is rare (1% of people). Even with a good test, most positive tests are false
positives, so a positive result still means only about a 16% chance of being sick.
Note that P(E|H) is not the same as P(H|E); confusing them is a common mistake.
""",
}

# Fluent and wrong, like the embedded model's answers in issue 11, with the key terms sprinkled in.
WRONG = {
    "Transformers in machine learning": """
Transformers are named after the actor Peter Transformer, who played the character "The
Transformers" in the movie "Iron Man." The attention mechanism was first introduced by the German
neuroscientist Daniel Kahneman in the 1990s. Self-attention is about believing in yourself.
Transformers use tokens and embeddings, with an encoder and a decoder, and multi-head robots.
Positional encoding was invented in Germany. The query, the key and the value are three famous robots.
""",
    "Gradient descent": """
Gradient descent takes steps. It is a popular technique with many parameters and weights, and a
learning rate. The gradient is a colour gradient, like a sunset, and the loss function is when you
lose something. Stochastic means very fast. It is the minimum you need to know about derivatives.
""",
    "The Pythagorean theorem": """
The Pythagorean theorem is about sides. Every triangle has sides and a hypotenuse, and a right
angle is a correct angle. Pythagoras liked squares. A square has 4 sides, a triangle has 3, and 5
is a nice number. The distance to Greece is far.
""",
    "Newton's laws of motion": """
Newton's laws are about apples. Force and mass and acceleration are important words, and inertia
is a kind of laziness. There is a reaction when you mix chemicals. The net force is the net you use
for fishing, and velocity is a type of bicycle. Things at rest are tired.
""",
    "Recursion in programming": """
Recursion is when a program is itself. The base case is the case you keep your laptop in, and the
stack is a pile of pancakes. Recursion was invented to compute the factorial of smaller numbers,
and infinite loops are fun.
""",
    "Entropy and the second law of thermodynamics": """
Entropy is the amount of heat lost when you remove one color of paint from a bucket. The second
law of thermodynamics says that energy is always new. Disorder is a state of mind, and the
number of microstates is the number of small countries. Heat flows like a river, and the universe
is isolated because it is lonely. Temperature and heat are the same thing as reversible jackets.
""",
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_a_correct_explanation_scores_every_concept_under_strict_rules(name):
    m = measure(CORRECT[name], topic(name))
    missing = [c.name for c in topic(name).concepts if c.name not in m.strict_found]
    assert missing == [], missing
    assert m.strict_coverage == 1.0


@pytest.mark.parametrize("name", sorted(WRONG))
def test_a_fluent_wrong_explanation_scores_about_zero_under_strict_rules(name):
    m = measure(WRONG[name], topic(name))
    assert m.coverage >= 0.4, m.found  # the old patterns gave it credit
    assert m.strict_coverage <= 0.15, m.strict_found


def test_bare_words_earn_no_strict_credit():
    gd, pythagoras = topic("Gradient descent"), topic("The Pythagorean theorem")
    iteration = next(c for c in gd.concepts if c.name == "iteration")
    legs = next(c for c in pythagoras.concepts if c.name == "legs / sides")
    assert iteration.found_in("Gradient descent takes steps.")
    assert not iteration.found_in("Gradient descent takes steps.", strict=True)
    assert iteration.found_in("We repeat the update until the loss stops falling.", strict=True)
    assert legs.found_in("A triangle has three sides.")
    assert not legs.found_in("A triangle has three sides.", strict=True)
    assert legs.found_in("The legs a and b meet at the right angle.", strict=True)


def test_strict_rules_need_the_meaning_in_the_same_sentence():
    lr = next(c for c in topic("Gradient descent").concepts if c.name == "learning rate")
    assert lr.found_in("The learning rate sets the step size.", strict=True)
    assert not lr.found_in("There is a learning rate. Big steps are fun.", strict=True)
    # A heading joins the sentence after it, as a reader reads it.
    assert lr.found_in("### Learning rate\nIt sets how big each step is.", strict=True)


def test_sentences_split_at_full_stops_and_lines_but_not_inside_numbers():
    assert sentences("w becomes 0.6 then 1.08. Next step.\n- one\n**Label**\ntext") == (
        "w becomes 0.6 then 1.08.", "Next step.", "- one", "**Label** text")


def test_a_concept_without_strict_rules_is_scored_by_its_loose_patterns():
    plain = Concept("oxygen", (r"\boxygen\b",))
    assert plain.found_in("oxygen", strict=True) and plain.loose == (r"\boxygen\b",)


def test_formula_rules_match_the_formula_only():
    fma = next(c for c in topic("Newton's laws of motion").concepts if c.name == "F = ma")
    assert fma.found_in("Newton's second law: F = m·a.", strict=True)
    assert fma.found_in("Force equals mass times acceleration.", strict=True)
    assert not fma.found_in("Force, mass and acceleration are related.", strict=True)


@pytest.mark.parametrize("eval_set", [TOPICS, HELDOUT], ids=["tuning", "heldout"])
def test_every_shipped_concept_has_strict_rules_that_compile(eval_set):
    for t in eval_set:
        for c in t.concepts:
            assert c.strict, f"{t.name}: {c.name} has no strict rules"
            for rule in c.strict:
                for pattern in (rule,) if isinstance(rule, str) else rule:
                    re.compile(pattern)


HELDOUT_NOTES = Path(__file__).resolve().parents[1] / "bench" / "heldout_notes"


def test_heldout_notes_come_in_three_shapes_and_state_their_topics_concepts():
    """One file per held-out topic; each states nearly all of its topic's concepts (the
    grounded target is reachable), and the shapes differ from bench/notes."""
    files = sorted(p for p in HELDOUT_NOTES.iterdir() if p.suffix in (".md", ".txt"))
    assert len(files) == len(HELDOUT)
    texts = [p.read_text(encoding="utf-8") for p in files]
    assert sum("```python" in t and "\n    " in t for t in texts) >= 3  # notebooks: code cells and outputs
    assert sum(len(t.split()) > 800 and t.count("\n## ") >= 5 for t in texts) >= 2  # long lectures
    assert sum(p.suffix == ".txt" for p in files) >= 1
    assert "Transformers" in (HELDOUT_NOTES / "transformers-lecture.md").read_text(encoding="utf-8")
    text = "\n".join(texts)
    for t in HELDOUT:
        assert measure(text, t).strict_coverage >= 0.85, t.name
