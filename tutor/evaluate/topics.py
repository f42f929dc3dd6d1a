"""The eval set: topics from six fields, each with the key concepts a good explanation names.

A concept counts as present when any of its patterns matches (case-insensitive regular
expressions, so synonyms and inflections are written out rather than guessed).
"""

from __future__ import annotations

import re

from tutor.evaluate.concepts import Concept, Topic


def _c(name: str, *patterns: str) -> Concept:
    return Concept(name, patterns or (re.escape(name),))


TOPICS: tuple[Topic, ...] = (
    Topic("Transformers in machine learning", "ML", (
        _c("attention", r"\battention\b"),
        _c("self-attention", r"self[- ]attention"),
        _c("query/key/value", r"\bquer(y|ies)\b.*\bkeys?\b|\bkeys?\b.*\bvalues?\b"),
        _c("tokens", r"\btokens?\b"),
        _c("embeddings", r"\bembedding"),
        _c("positional encoding", r"position(al)? (encoding|embedding)"),
        _c("encoder/decoder", r"\bencoder|\bdecoder"),
        _c("multi-head", r"multi[- ]?head"),
    )),
    Topic("Gradient descent", "ML", (
        _c("loss function", r"\b(loss|cost|objective|error) function"),
        _c("gradient", r"\bgradients?\b"),
        _c("learning rate", r"learning[- ]rate|step size"),
        _c("minimum", r"\bminim(um|a|ize|ise|izing|ising)\b"),
        _c("derivative", r"\bderivatives?\b|\bslope\b|partial"),
        _c("iteration", r"\biterat|\brepeat|\bsteps?\b"),
        _c("parameters/weights", r"\bparameters?\b|\bweights?\b"),
        _c("stochastic / mini-batch", r"stochastic|mini[- ]?batch|\bSGD\b"),
    )),
    Topic("Newton's laws of motion", "physics", (
        _c("inertia", r"\binertia"),
        _c("force", r"\bforces?\b"),
        _c("mass", r"\bmass\b"),
        _c("acceleration", r"\baccelerat"),
        _c("F = ma", r"F\s*=\s*m\s*\*?\s*a|force equals mass times acceleration|F\s*=\s*ma"),
        _c("action and reaction", r"\breaction\b"),
        _c("net force / balanced", r"net force|unbalanced|balanced force"),
        _c("velocity / rest", r"\bvelocity\b|\bat rest\b|constant (speed|velocity)"),
    )),
    Topic("The photoelectric effect", "physics", (
        _c("light / photons", r"\bphotons?\b"),
        _c("electrons emitted", r"\belectrons?\b"),
        _c("frequency", r"\bfrequenc"),
        _c("threshold", r"\bthreshold"),
        _c("work function", r"work function"),
        _c("Einstein", r"\bEinstein"),
        _c("energy E = hf", r"E\s*=\s*h\s*[fν]|h\s*[fν]|Planck"),
        _c("kinetic energy", r"kinetic energy"),
        _c("metal surface", r"\bmetals?\b|\bsurface"),
    )),
    Topic("The Pythagorean theorem", "math", (
        _c("right triangle", r"right[- ](angled )?triangle|right angle"),
        _c("hypotenuse", r"\bhypotenuse"),
        _c("a² + b² = c²", r"a\s*(\^\s*2|²|\*\*\s*2)\s*\+\s*b\s*(\^\s*2|²|\*\*\s*2)\s*=\s*c\s*(\^\s*2|²|\*\*\s*2)"),
        _c("legs / sides", r"\blegs?\b|\bsides?\b"),
        _c("square", r"\bsquared?\b|\bsquares\b"),
        _c("3-4-5 example", r"\b3\b.*\b4\b.*\b5\b"),
        _c("distance", r"\bdistance"),
        _c("Pythagoras", r"\bPythagoras\b"),
    )),
    Topic("Derivatives in calculus", "math", (
        _c("rate of change", r"rate of change|how fast"),
        _c("slope / tangent", r"\bslope|\btangent"),
        _c("limit", r"\blimits?\b"),
        _c("function", r"\bfunctions?\b"),
        _c("power rule", r"power rule|\bx\s*(\^|\*\*)\s*n|n\s*x\s*(\^|\*\*)\s*\(?n\s*-\s*1"),
        _c("notation f'(x) or dy/dx", r"f'\s*\(x\)|f′|dy\s*/\s*dx|d/dx|\\frac\{d"),
        _c("chain or product rule", r"chain rule|product rule|quotient rule"),
        _c("instantaneous", r"instantaneous"),
    )),
    Topic("Photosynthesis", "biology", (
        _c("chlorophyll", r"chlorophyll"),
        _c("chloroplast", r"chloroplast"),
        _c("carbon dioxide", r"carbon dioxide|\bCO2\b|CO₂"),
        _c("water", r"\bwater\b|H2O|H₂O"),
        _c("glucose / sugar", r"\bglucose\b|\bsugars?\b"),
        _c("oxygen", r"\boxygen\b"),
        _c("light energy / sunlight", r"light energy|sunlight|\blight\b"),
        _c("light reactions", r"light[- ]dependent|light reactions"),
        _c("Calvin cycle", r"calvin cycle|light[- ]independent|dark reactions"),
    )),
    Topic("DNA replication", "biology", (
        _c("double helix", r"double helix"),
        _c("helicase", r"\bhelicase"),
        _c("DNA polymerase", r"polymerase"),
        _c("base pairing", r"base[- ]pair|complementary|\bA\b.{0,20}\bT\b|adenine"),
        _c("semi-conservative", r"semi[- ]?conservative"),
        _c("leading/lagging strand", r"leading strand|lagging strand|okazaki"),
        _c("replication fork", r"replication fork|\bfork\b"),
        _c("template strand", r"\btemplates?\b"),
    )),
    Topic("The French Revolution", "history", (
        _c("1789", r"\b1789\b"),
        _c("Bastille", r"\bBastille"),
        _c("Louis XVI", r"Louis XVI|Louis 16|the king"),
        _c("Estates-General / estates", r"\bestates?\b"),
        _c("Declaration of the Rights of Man", r"rights of man|declaration of the rights"),
        _c("Reign of Terror", r"reign of terror|\bthe terror\b|robespierre|guillotine"),
        _c("Napoleon", r"\bNapoleon"),
        _c("liberty, equality", r"\bliberty\b|\begalit|\bequality\b"),
        _c("monarchy", r"\bmonarch"),
    )),
    Topic("The Industrial Revolution", "history", (
        _c("Britain", r"\bBritain\b|\bEngland\b|British|\bUK\b"),
        _c("18th century", r"18th century|eighteenth century|\b17[5-9]0s?\b|1760"),
        _c("steam engine", r"steam engine|steam power|\bsteam\b"),
        _c("factories", r"\bfactor(y|ies)"),
        _c("textiles", r"textile|cotton|spinning"),
        _c("coal / iron", r"\bcoal\b|\biron\b"),
        _c("urbanization", r"urbani[sz]|cities|\bcity\b"),
        _c("working conditions / labor", r"working conditions|child labou?r|\bworkers?\b|labou?r"),
    )),
    Topic("Recursion in programming", "programming", (
        _c("function calls itself", r"calls? itself|calling itself|itself"),
        _c("base case", r"base case"),
        _c("recursive case", r"recursive (case|step|call)"),
        _c("stack / call stack", r"\bstack\b"),
        _c("factorial or fibonacci", r"factorial|fibonacci"),
        _c("smaller subproblem", r"smaller|subproblem|sub-problem"),
        _c("infinite recursion / stack overflow", r"infinite|stack overflow|recursion ?error|maximum recursion"),
        _c("code", r"\bdef \w+\(|function \w+\(|return \w+\("),
    )),
    Topic("Hash tables", "programming", (
        _c("key-value", r"key[- ]value|\bkeys?\b"),
        _c("hash function", r"hash function"),
        _c("buckets / array", r"\bbuckets?\b|\barray\b|\bslots?\b"),
        _c("collision", r"\bcollision"),
        _c("chaining or probing", r"chaining|probing|open addressing"),
        _c("O(1) lookup", r"O\(1\)|constant time|constant-time"),
        _c("dictionary", r"\bdict(ionar(y|ies))?\b|\bmap\b|hashmap|HashMap"),
        _c("load factor / resize", r"load factor|resiz|rehash"),
    )),
)


def by_name(names: list[str] | None) -> tuple[Topic, ...]:
    """The topics whose names contain any of `names` (case-insensitive); all when None."""
    if not names:
        return TOPICS
    wanted = [n.lower() for n in names]
    chosen = tuple(t for t in TOPICS if any(w in t.name.lower() or w == t.field.lower() for w in wanted))
    if not chosen:
        from tutor.errors import UsageError

        raise UsageError(f"no eval topic matches {', '.join(names)}; see tutor/evaluate/topics.py")
    return chosen
