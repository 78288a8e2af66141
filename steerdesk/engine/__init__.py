"""Model, SAE, hook, steering and generation code. Imports no Qt, ever."""
