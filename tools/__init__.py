"""Everything the model can call. Imports sandbox, never agent."""
