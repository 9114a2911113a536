/** On a phone the panels take turns in one place: this switch picks the decoder shown (CSS hides it elsewhere). */
export type ShownDecoder = 'vanilla' | 'lors';

export function ViewSwitch({ shown, onChange }: { shown: ShownDecoder; onChange: (d: ShownDecoder) => void }) {
  const option = (d: ShownDecoder, label: string) => (
    <label className={`view-option${shown === d ? ' view-option-on' : ''}`}>
      <input
        type="radio"
        name="shown-decoder"
        checked={shown === d}
        data-testid={`view-${d}`}
        onChange={() => onChange(d)}
      />
      <span>{label}</span>
    </label>
  );
  return (
    <div className="view-switch" role="radiogroup" aria-label="Decoder shown">
      {option('vanilla', 'Vanilla')}
      {option('lors', 'LORS')}
    </div>
  );
}
