"""Tests of the etl extract half."""
