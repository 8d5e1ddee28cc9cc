"""HTTP transport: parse a request, call an action, serialize its answer or map its refusal to a status."""
