import { useEffect, useState } from 'react';
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
import { UrlNotice } from './UrlNotice';
import { ViewSwitch, type ShownDecoder } from './ViewSwitch';

export function App() {
  const showNanodet = useSettings((s) => s.showNanodet);
  // Phones show one decoder at a time, in the same place (the switch); wider screens show both side by side.
  const [shown, setShown] = useState<ShownDecoder>('lors');
  useEffect(() => controller.attach(), []);
  return (
    <div className="app">
      <Header />
      <UrlNotice />
      <StatusBar />
      <main>
        <InputArea />
        <section className="compare" aria-label="Detections side by side">
          <div className="compare-main">
            <CompareBar />
            <ViewSwitch shown={shown} onChange={setShown} />
            <div className={`panels${showNanodet ? ' panels-3' : ''} shows-${shown}`} data-shown={shown}>
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
