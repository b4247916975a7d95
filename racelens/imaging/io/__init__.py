"""Read DICOM, PNG or JPEG images as display intensities in [0, 1]."""

# the public modules; importing the package imports none of them (no torch at start-up)
__all__ = ["decoders", "dicom_display", "intensity", "load", "resize"]
