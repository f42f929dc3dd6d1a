"""Where models come from: shipped weights, pulled GGUF files, verified caches."""
