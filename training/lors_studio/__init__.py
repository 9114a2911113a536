"""PyTorch mirror of the LORS Studio decoder (src/model): configs, parameter spec, model, weights export.

Public API:
    config:  ModelConfig, DecoderConfig, LorsConfig, PRESETS, make_config, dims, stretch_groups, parse_groups
    params:  parameter_spec, count_parameters
    model:   AdaMixerDecoder
    boxes:   decode_xyzr, xyxy_to_xyzr, initial_xyzr, iof_matrix, position_embedding
    export:  export, load_weights, load_checkpoint
"""

from .config import (  # noqa: F401
    PAPER_GROUPS,
    PRESETS,
    DecoderConfig,
    LorsConfig,
    ModelConfig,
    dims,
    make_config,
    parse_groups,
    stretch_groups,
)
from .params import count_parameters, parameter_spec  # noqa: F401
