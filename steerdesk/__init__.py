"""steerdesk: steer local language models by their sparse-autoencoder features."""

__version__ = "0.1.0"
