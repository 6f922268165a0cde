"""`storycoach lsp`: a Language Server Protocol server for story files and drafts.

Rubric findings become diagnostics as you type, with hovers that explain the rule, completion
in the front matter, and code actions for the model review and the bank. Only the `lsp` command
imports this package's server (pygls and lsprotocol are loaded by nothing else).
"""
