"""PyTorch mirror of the LORS Studio decoder (src/model): configs, parameter spec, model, weights export.

Public API:
    config:  ModelConfig, DecoderConfig, LorsConfig, PRESETS, make_config, dims, stretch_groups, parse_groups
    params:  parameter_spec, count_parameters
    model:   AdaMixerDecoder
    boxes:   decode_xyzr, xyxy_to_xyzr, initial_xyzr, iof_matrix, position_embedding
    export:  export, load_weights, load_checkpoint
"""
from .config import (  # noqa: F401
    DecoderConfig, LorsConfig, ModelConfig, PRESETS, PAPER_GROUPS, make_config, dims, stretch_groups, parse_groups,
)
from .params import parameter_spec, count_parameters  # noqa: F401
