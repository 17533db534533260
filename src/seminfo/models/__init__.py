"""Token models: one interface from finite-state sources and n-grams to Transformers and Mamba."""
