"""Site monitoring: the noise and dust monitors at construction sites and what they report
(HJ 212-2017), checked against the limits."""
