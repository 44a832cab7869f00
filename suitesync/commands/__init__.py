"""The commands: one module each, a plain function from its options to a result value.

They print nothing: what happens along the way goes to the `Events` they are given
(commands/project.py), and the result goes back to cli.py, which hands it to a renderer.
"""
