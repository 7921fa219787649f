"""reports: renders RunResults as roofline, utilisation, traffic and timeline reports."""
