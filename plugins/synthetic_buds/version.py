"""The generator's version, read by the plugin (its fingerprint) and the writer alike."""

# Bump whenever the generator's output changes: it is in the dataset's folder name and in every cell key.
GENERATOR_VERSION = 1
