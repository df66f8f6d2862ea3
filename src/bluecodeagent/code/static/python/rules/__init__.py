"""Python rules, one module per CWE family. Every module here is found by discovery (and rules of
plug-ins through the entry-point group ``bluecodeagent.rules``) when the rules are first asked for."""
