"""lookclosely: `from agent import Agent` to embed the agent in another program."""


def __getattr__(name: str):
    # Lazy, so `import agent.transcript` stays light and free of import cycles.
    if name == "Agent":
        from agent.loop import Agent

        return Agent
    if name == "load_model":
        from agent.models import load_model

        return load_model
    raise AttributeError(name)
