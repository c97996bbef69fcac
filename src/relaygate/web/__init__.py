"""The control plane's HTTP shell: error rendering, the landing page, the console."""
