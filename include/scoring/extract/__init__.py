"""Extract (SPEC section 2): landing files and the CRM snapshot into raw/."""
