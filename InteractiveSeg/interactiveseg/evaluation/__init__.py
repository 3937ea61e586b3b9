"""Robot-user evaluation: the same boxes and the same stroke rule for every method, measured per round.

Needs the optional evaluation dependencies (scipy via scikit-image, itk-growcut,
matplotlib for the plot); the engine itself never imports this package.
"""
