"""SDTM mapping: algorithms (one small function each) and the engine that applies a spec."""
