import { useEffect } from 'react';
import { controller } from '../app/controller';
import { useSettings } from '../state/settings';
import { CompareBar } from './CompareBar';
import { CompressionChart } from './CompressionChart';
import { Controls } from './Controls';
import { Footer } from './Footer';
import { Header } from './Header';
import { InputArea } from './InputArea';
import { Panel } from './Panel';
import { ParamsView } from './ParamsView';
import { StatusBar } from './StatusBar';

export function App() {
  const showNanodet = useSettings((s) => s.showNanodet);
  useEffect(() => controller.attach(), []);
  return (
    <div className="app">
      <Header />
      <StatusBar />
      <main>
        <InputArea />
        <section className="compare" aria-label="Detections side by side">
          <div className="compare-main">
            <CompareBar />
            <div className={`panels${showNanodet ? ' panels-3' : ''}`}>
              <Panel model="vanilla" />
              <Panel model="lors" />
              {showNanodet && <Panel model="nanodet" />}
            </div>
          </div>
          <Controls />
        </section>
        <ParamsView />
        <CompressionChart />
      </main>
      <Footer />
    </div>
  );
}
