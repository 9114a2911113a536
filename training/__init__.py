"""LORS Studio training pipeline (PyTorch). See training/lors_studio."""
