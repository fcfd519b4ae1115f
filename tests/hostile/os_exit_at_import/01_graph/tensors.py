import os

os._exit(0)   # the child dies before reporting a single case
