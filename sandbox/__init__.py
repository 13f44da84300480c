"""The home directory tools work in, path confinement, and the process jail. Imports neither agent nor tools."""
