"""A functional model's get_config / from_config, in Keras 3's format:

    {"name": "functional", "trainable": true,
     "layers": [{"module": "pynn.layers", "class_name": "Dense", "config": {...}, "registered_name": "Dense",
                 "name": "dense",
                 "inbound_nodes": [{"args": [<tensor>], "kwargs": {}}]},   one entry per call of the layer
                ...],
     "input_layers": [name, node_index, tensor_index]   (a list of them for several inputs, a dict by key),
     "output_layers": likewise}

where <tensor> is {"class_name": "__keras_tensor__", "config": {"shape": [...], "dtype": "float32",
"keras_history": [layer name, node index, tensor index]}}, a list input is a list of them, and a call's
initial states and fixed training mode are in "kwargs". A call with options of its own (node.call_options:
an attention layer's masks and flags) is written as the layer's `call_config` says the call is made, e.g.
{"args": [<query>], "kwargs": {"value": <tensor>, "attention_mask": <tensor>, "use_causal_mask": true}}. Node
indices count the calls of a layer inside this model, in the order they were made. Rebuilding calls each layer
again on the rebuilt tensors.
"""
from pynn.layers.input_layer import InputLayer


def get_config(model):
    from pynn.saving import serialize_keras_object
    index = {}                        # id(node) -> its index among the layer's nodes in this model
    for layer in model._graph_layers:
        nodes = [n for n in layer._inbound_nodes if id(n) in model._node_ids]
        for i, n in enumerate(nodes):
            index[id(n)] = i

    def ref(t):
        layer, node_index, tensor_index = t._keras_history
        node = layer._inbound_nodes[node_index]
        return [layer.name, index[id(node)], tensor_index]

    def tensor(t):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(t.shape), "dtype": t.dtype.name, "keras_history": ref(t)}}

    def described(value):            # tensors, in lists and dicts, as their descriptions
        if isinstance(value, (list, tuple)):
            return [described(v) for v in value]
        if isinstance(value, dict):
            return {k: described(v) for k, v in value.items()}
        return tensor(value) if hasattr(value, "_keras_history") else value

    entries = []
    for layer in model._graph_layers:
        entry = serialize_keras_object(layer)
        entry["name"] = layer.name
        calls = []
        for node in layer._inbound_nodes:
            if id(node) not in model._node_ids or isinstance(layer, InputLayer):
                continue
            if node.call_options and hasattr(layer, "call_config"):
                arg, kwargs = layer.call_config(node.main_inputs, node.call_options)
                if node.training is not None:
                    kwargs["training"] = bool(node.training)
                calls.append({"args": [described(arg)], "kwargs": described(kwargs)})
                continue
            main = [tensor(t) for t in node.main_inputs]
            kwargs = {}
            if node.num_states:
                kwargs["initial_state"] = [tensor(t) for t in node.inputs[len(node.inputs) - node.num_states:]]
            if node.training is not None:
                kwargs["training"] = bool(node.training)
            calls.append({"args": [main] if node.list_input else main, "kwargs": kwargs})
        entry["inbound_nodes"] = calls
        entries.append(entry)

    def structure(tensors, keys, nested):
        refs = [ref(t) for t in tensors]
        if keys is not None:
            return dict(zip(keys, refs))
        return refs if nested else refs[0]

    return {"name": model.name, "trainable": bool(model.trainable), "layers": entries,
            "input_layers": structure(model.inputs, model._input_keys, model._nested_inputs),
            "output_layers": structure(model.outputs, model._output_keys, model._nested_outputs)}


def from_config(cls, config, custom_objects=None):
    from pynn.saving import deserialize_keras_object
    from pynn import layers as layers_module
    name = config.get("name")
    where = f"Functional.from_config ('{name}')"
    if not isinstance(config.get("layers"), list):
        raise ValueError(f"{where}: 'layers' must be a list")
    made = {}                         # layer name -> layer
    pending = []                      # (layer, node index in this model, call description)
    outputs = {}                      # (layer name, node index) -> output tensors
    for entry in config["layers"]:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError(f"{where}: each layer entry needs a 'name', got {entry!r:.80}")
        layer = deserialize_keras_object({k: v for k, v in entry.items() if k not in ("name", "inbound_nodes")},
                                         custom_objects, module_objects=vars(layers_module))
        if not hasattr(layer, "forward"):
            raise ValueError(f"{where}: '{entry['name']}' is not a layer")
        layer.name = entry["name"]
        if entry["name"] in made:
            raise ValueError(f"{where}: two layers are named '{entry['name']}'")
        made[entry["name"]] = layer
        if isinstance(layer, InputLayer):
            outputs[(layer.name, 0)] = [layer.output]
            continue
        for i, call in enumerate(entry.get("inbound_nodes", [])):
            pending.append((layer, i, call))

    def resolve(value):
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            history = value.get("config", {}).get("keras_history")
            if not isinstance(history, list) or len(history) != 3:
                raise ValueError(f"{where}: a tensor reference needs keras_history [layer, node, tensor], got "
                                 f"{history!r}")
            made_outputs = outputs.get((history[0], history[1]))
            if made_outputs is None:
                raise KeyError(tuple(history))
            if not 0 <= history[2] < len(made_outputs):
                raise ValueError(f"{where}: layer '{history[0]}' call {history[1]} has no output {history[2]}")
            return made_outputs[history[2]]
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        return value

    while pending:                    # call each layer once the tensors it reads exist
        progress = []
        for item in pending:
            layer, i, call = item
            try:
                args = resolve(call.get("args", []))
                kwargs = resolve(call.get("kwargs", {}))
            except KeyError:
                continue
            if len(args) != 1:
                raise ValueError(f"{where}: layer '{layer.name}' call {i} must have one positional argument")
            result = layer(args[0], **kwargs)
            outputs[(layer.name, i)] = result if isinstance(result, list) else [result]
            progress.append(item)
        if not progress:
            missing = ", ".join(f"'{layer.name}' call {i}" for layer, i, _ in pending)
            raise ValueError(f"{where}: cannot rebuild the graph: {missing} read(s) tensors no layer makes")
        pending = [item for item in pending if item not in progress]

    def tensors(structure):
        if isinstance(structure, dict):
            return {k: tensors(v) for k, v in structure.items()}
        if isinstance(structure, list) and structure and isinstance(structure[0], list):
            return [tensors(v) for v in structure]
        if not isinstance(structure, list) or len(structure) != 3:
            raise ValueError(f"{where}: bad input/output reference {structure!r}")
        found = outputs.get((structure[0], structure[1]))
        if found is None or not 0 <= structure[2] < len(found):
            raise ValueError(f"{where}: input/output {structure!r} names no tensor of the graph")
        return found[structure[2]]

    return cls(tensors(config.get("input_layers")), tensors(config.get("output_layers")), name=name,
               trainable=config.get("trainable", True))
