"""Resolving a class's or define's parameters: given > data > default, each value checked
against the parameter's type (params.py). A mixin of the Compiler."""

from __future__ import annotations

from typing import Any

from gitpuppet.compile.data import DataStore
from gitpuppet.compile.loader import PosDict
from gitpuppet.compile.params import ParamSpec, check_value, data_pos, param_specs
from gitpuppet.compile.template import Templates, renders_to_itself
from gitpuppet.errors import SourceError, SourcePos, did_you_mean


class ParamResolution:
    """Parameter resolution for the Compiler, which sets these attributes."""

    templates: Templates
    data: DataStore
    base_scope: dict[str, Any]
    node_name: str
    _specs: dict[int, tuple[PosDict, dict[str, ParamSpec]]]

    @staticmethod
    def _fixed(scope: dict[str, Any]) -> dict[str, Any]:
        return {"facts": scope["facts"], "node": scope["node"], "lookup": scope["lookup"]}

    def resolve_params(
        self,
        body: PosDict,
        given: dict[str, Any],
        given_pos: SourcePos,
        what: str,
        lookup_prefix: str | None,
        extra: dict[str, Any] | None = None,
        given_lines: dict[Any, int] | None = None,
    ) -> dict[str, Any]:
        """Parameters: given (node / define use) > data `<class>.<param>` > default; ~ is required.
        Each value is checked against the parameter's type (params.py).

        `given_lines`: the line of each given value (default: `given.lines`)."""
        specs = self._param_specs(body, what)
        if given_lines is None:
            given_lines = getattr(given, "lines", {})
        for key in given:
            if key not in specs:
                where = SourcePos(given_pos.file, given_lines.get(key, given_pos.line))
                raise SourceError(
                    where, f"{what} has no parameter '{key}'", did_you_mean(str(key), specs)
                )
        given_by = "the define use" if lookup_prefix is None else "the node declaration"
        out: dict[str, Any] = {}
        for key, spec in specs.items():
            if key in given and given[key] is not None:  # an explicit ~ gives nothing
                value = given[key]
                where = SourcePos(given_pos.file, given_lines.get(key, given_pos.line))
                if not renders_to_itself(value):
                    value = self.templates.render_value(value, self.base_scope, where)
                check_value(spec, value, what, given_by, where)
            else:
                value = self._param_from_data_or_default(
                    spec, what, given_pos, lookup_prefix, extra, out
                )
            out[key] = value
        return out

    def _param_specs(self, body: PosDict, what: str) -> dict[str, ParamSpec]:
        """The typed parameters of a class or define body, worked out once per body."""
        cached = self._specs.get(id(body))
        if cached is not None and cached[0] is body:
            return cached[1]
        declared = body.get("params") or PosDict()
        if not isinstance(declared, PosDict):
            raise SourceError(body.pos("params"), f"params of {what} must be a mapping")
        specs = param_specs(declared, what)
        self._specs[id(body)] = (body, specs)
        return specs

    def _param_from_data_or_default(
        self,
        spec: ParamSpec,
        what: str,
        given_pos: SourcePos,
        lookup_prefix: str | None,
        extra: dict[str, Any] | None,
        out: dict[str, Any],
    ) -> Any:
        key = spec.name
        if lookup_prefix:
            value = self.data.lookup(f"{lookup_prefix}.{key}", default=None)
            if value is not None:
                where = data_pos(self.data, f"{lookup_prefix}.{key}") or spec.pos
                check_value(spec, value, what, "data", where)
                return value
        if spec.default is None:
            if spec.required:
                raise SourceError(
                    given_pos,
                    f"{what} needs parameter '{key}' for node '{self.node_name}'",
                    f"give it in the node declaration or in data as {lookup_prefix or 'the define use'}"
                    + (f".{key}" if lookup_prefix else ""),
                )
            return None
        if renders_to_itself(spec.default):
            return spec.default  # a plain scalar, checked when the parameters were read
        scope = {
            **self.base_scope["node"]["vars"],
            **(extra or {}),
            **self._fixed(self.base_scope),
            **out,
        }
        value = self.templates.render_value(spec.default, scope, spec.pos)
        check_value(spec, value, what, "its default", spec.pos)
        return value
