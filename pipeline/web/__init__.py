"""The web workbench served by `shuzhi serve` (FastAPI, server-rendered pages, no build step)."""
