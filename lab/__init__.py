"""The app's plain functions: shared setup and URL (state), the network picture (diagram), the LaTeX
derivations (derivations), the charts and their plain-language reading (charts), cached engine calls
(compute). Pages in app_pages/ call these and hold no maths of their own."""
