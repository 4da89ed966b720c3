"""Stores for conversation turns and the intake journal."""
