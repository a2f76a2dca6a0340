"""Injection-recovery campaigns (light curves and pixel stamps) and bootstrap studies."""
