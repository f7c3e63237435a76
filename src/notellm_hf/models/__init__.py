"""Model definitions. ``notellm/`` is the remote code that travels with every exported model."""
