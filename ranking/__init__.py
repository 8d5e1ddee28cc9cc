"""Feed ranking: features, LightGBM training and evaluation, model registry, scoring."""
