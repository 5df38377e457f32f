"""Opcodes: parameter types and validation (base), the parameter tables (params), one module of definitions per area, and the registry."""
