"""JSON in and out of the attrs models: the converter, a codec per model, the array reader."""
