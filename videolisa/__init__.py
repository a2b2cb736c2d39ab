"""reasonvos.videolisa: the VideoLISA model (needs the ``models`` extra: torch, transformers, SAM).

Modules, one job each (importing this package imports no torch):

- ``sampling``     Sparse-Dense Sampling indices (32 sparse / 4 dense frames, as trained)
- ``prompts``      the phi3_instruct conversation and the per-benchmark query templates
- ``tokenizer``    the legacy sentencepiece tokenizer and the ``<image>`` splice ids
- ``sam_adapter``  upstream segment-anything modules + LISA's text-prompt/dtype changes (shared with LISA)
- ``model``        VideoLISA from stock Phi-3 and CLIP classes, projector, ``text_hidden_fcs``, [SEG] rule
- ``checkpoint``   loading/writing the ``ZechenBai/VideoLISA-3.8B`` layout; partial loads are refused
- ``frames``       reading frames (benchmark videos, folders, video files) as RGB
- ``segmenter``    the VideoSegmenter for ``reasonvos infer`` with a per-video cache
- ``options``      the model's options, declared once (``load_model`` keywords, ``infer``/``segment`` flags)
- ``tiny``         tiny random model and tokenizer for tests and smoke runs
"""
