"""`tutor serve`: the local model behind OpenAI's Chat Completions API.

    app.py        the ASGI app: routes, auth, body limit, errors (`create_app(backend)`)
    responses.py  one answer as an SSE stream or a JSON body; cancels on disconnect
    worker.py     the model worker threads, a bounded queue, cancellation and draining
    schema.py     request validation into backend messages and options
    wire.py       OpenAI's response, chunk and error shapes
    server.py     uvicorn with a shutdown that ends streams properly

The `stop` parameter is cut by `tutor.stops`, the scanner the local backend uses too.

Nothing here is imported by `tutor --help`; starlette and uvicorn come with the `serve` extra.
"""
