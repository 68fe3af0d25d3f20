"""A griffe extension for the API reference: lazyrich's docstrings are written with
reStructuredText roles (``:math:`...```, ``.. math::`` blocks, ``:func:`...```, double
backquotes); this rewrites them as the Markdown that mkdocstrings renders, with the maths
handed to MathJax (``$...$`` and ``$$...$$``, typeset by pymdownx.arithmatex)."""

import re
import textwrap

import griffe

_ROLE_MATH = re.compile(r":math:`([^`]+)`")
_ROLE_REF = re.compile(r":(?:func|class|data|mod|meth|attr|obj|exc|py:\w+):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def _math_blocks(text: str) -> str:
    """``.. math::`` followed by an indented block -> a ``$$`` display block."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"^(\s*)\.\. math::\s*(.*)$", line)
        if not m:
            out.append(line)
            i += 1
            continue
        indent, first = m.group(1), m.group(2)
        body = [first] if first.strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip()
                                  or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            body.append(lines[i])
            i += 1
        block = textwrap.dedent("\n".join(body)).strip("\n")
        out += ["", indent + "$$"] + [indent + b for b in block.splitlines()] + [indent + "$$", ""]
    return "\n".join(out)


def rst_to_markdown(text: str) -> str:
    text = _math_blocks(text)
    text = _ROLE_MATH.sub(lambda m: "$" + m.group(1).strip() + "$", text)
    text = _ROLE_REF.sub(lambda m: "`" + m.group(1) + "`", text)
    text = re.sub(r"(?m)(\S)::[ \t]*$", r"\1:", text)  # "Example::" before a literal block
    return _LITERAL.sub(lambda m: "`" + m.group(1) + "`", text)


class RstMath(griffe.Extension):
    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value)
