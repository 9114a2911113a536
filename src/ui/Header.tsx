import { BackendChoice } from './BackendChoice';
import { Explainer } from './Explainer';
import { Headline } from './Headline';

/** The title, the headline result, "What is LORS?" and the backend (a badge with its details, and the choice). */
export function Header() {
  return (
    <header className="header">
      <div className="header-text">
        <h1>LORS Studio</h1>
        <Headline />
      </div>
      <div className="header-tools">
        <Explainer />
        <BackendChoice />
      </div>
    </header>
  );
}
