// Right panel: the focused module's channel gate as a sorted bar chart, with how many
// channels it suppresses and how spread its weights are. A bar click shows that channel.
import { useMemo, useState, type MouseEvent } from 'react';
import { channelStats, sortedChannels } from '../lib/stats';
import { useActions, useApp } from '../store';
import { selectFocusedModule } from '../store/selectors';
import { ComponentsGrid } from './ComponentsGrid';
import { MatrixView } from './MatrixView';
import { TransformPanel } from './TransformView';

const W = 272;
const H = 120;

export function ChannelChart() {
  const a = useActions();
  const m = useApp(selectFocusedModule);
  const weights = useApp((s) => (m ? s.run.taps[m.name]?.channel?.data ?? null : null));
  const pick = useApp((s) => (m && s.analysis.channel?.module === m.name ? s.analysis.channel : null));
  const running = useApp((s) => s.run.status === 'running');
  const [hover, setHover] = useState<number | null>(null);
  const order = useMemo(() => (weights ? sortedChannels(weights) : []), [weights]);
  const stats = useMemo(() => (weights ? channelStats(weights) : null), [weights]);

  if (!m) return <div className="placeholder">Select a module to see its channel weights.</div>;
  // DANet's channel attention: a [C, C] affinity, not a gate in [0, 1].
  if (m.taps.includes('matrix')) return <MatrixView />;
  // EMANet's bases, A2-Net's descriptors: K maps, not one weight per channel.
  if (m.taps.includes('maps')) return <ComponentsGrid />;
  // A spatial transformer: theta in words and the photo on its grid.
  if (m.taps.includes('grid')) return <TransformPanel />;
  if (!m.taps.includes('channel')) {
    // Every positional attention (non-local and its relatives, imported affinities) has an `attention` tap: no list of kinds to keep.
    const why = m.kind === 'heads' ? 'attention heads mix tokens, not channels' : m.taps.includes('attention') || m.kind === 'affinity' ? 'it mixes positions, not channels' : 'no channel tap';
    return <div className="placeholder">{m.name} has no channel gate ({why}).</div>;
  }
  if (!weights || !stats) return <div className="placeholder">{running ? 'Waiting for the run…' : 'Open an image to see its channel weights.'}</div>;

  const n = order.length;
  const bw = W / n;
  const indexAt = (e: MouseEvent<SVGSVGElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    const i = Math.floor(((e.clientX - r.left) / r.width) * n);
    return order[Math.min(n - 1, Math.max(0, i))] ?? null;
  };
  const shownCh = hover ?? pick?.channel ?? null;
  return (
    <div>
      <svg className="chart" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" data-testid="channel-chart"
        aria-label={`Channel weights of ${m.name}, sorted`}
        onMouseMove={(e) => setHover(indexAt(e))}
        onMouseLeave={() => setHover(null)}
        onClick={(e) => {
          const c = indexAt(e);
          if (c === null) return;
          a.focus(m.name, 'channel');
          void a.pickChannel(m.name, pick?.channel === c ? null : c);
        }}>
        {order.map((c, i) => {
          const v = Math.max(0, Math.min(1, weights[c]!));
          return (
            <rect key={c} className={`bar${v < 0.5 ? ' below' : ''}${pick?.channel === c ? ' sel' : ''}`}
              x={i * bw} y={H - v * H} width={Math.max(bw - (n < 96 ? 1 : 0), 0.6)} height={Math.max(v * H, 0.5)}
              data-channel={c} />
          );
        })}
        <line className="th" x1={0} x2={W} y1={H / 2} y2={H / 2} vectorEffect="non-scaling-stroke" />
      </svg>
      <div className="chart-hover">
        {shownCh !== null ? <>channel <b>{shownCh}</b> · weight {weights[shownCh]!.toFixed(3)} · rank {order.indexOf(shownCh) + 1}/{n}</> : <span className="faint">sorted high → low · dashed line = 0.5 · click a bar</span>}
      </div>
      <div className="stats">
        <div className="stat"><div className="k">Channels</div><div className="v">{stats.count}</div></div>
        <div className="stat"><div className="k">Gated below 0.5</div><div className="v" data-testid="below">{stats.below} <small>{((stats.below / Math.max(1, stats.count)) * 100).toFixed(0)}%</small></div></div>
        <div className="stat"><div className="k">Mean · range</div><div className="v">{stats.mean.toFixed(2)} <small>{stats.min.toFixed(2)}–{stats.max.toFixed(2)}</small></div></div>
        <div className="stat" title="Shannon entropy of the normalised weights; 100% = all channels weighted equally"><div className="k">Entropy</div><div className="v">{stats.entropy.toFixed(2)} <small>bits · {(stats.entropyRatio * 100).toFixed(1)}%</small></div></div>
      </div>
      {pick && (
        <div className="note" data-testid="channel-note">
          {pick.status === 'pending' && `Loading channel ${pick.channel}…`}
          {pick.status === 'done' && `Showing channel ${pick.channel}'s activation on the image (the module's input in that channel, before its gates).`}
          {pick.status === 'unsupported' && `This engine does not send single-channel maps yet; showing ${m.name}'s activation map (channel-weighted mean) instead.`}
          {pick.status === 'error' && `Channel ${pick.channel}'s map is not available (${pick.error ?? 'the engine did not answer'}); showing ${m.name}'s activation map (channel-weighted mean) instead.`}
          {' '}<button className="btn ghost small" onClick={() => void a.pickChannel(m.name, null)}>Clear</button>
        </div>
      )}
    </div>
  );
}
