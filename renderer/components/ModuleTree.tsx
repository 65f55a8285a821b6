// Left sidebar: every attention module in forward order, grouped by stage. Per module:
// eye = show its overlay (and its grid thumbnail), switch = bypass (re-runs without it).
import type { ModuleInfo, TapName } from '../../engine/protocol';
import { useActions, useApp, useAppShallow } from '../store';
import { groupByStage } from '../store/logic';
import { EyeIcon, EyeOffIcon } from './Icons';

const KIND_LABEL: Record<string, string> = { cbam: 'CBAM', se: 'SE', bam: 'BAM', gc: 'GC', nonlocal: 'Non-local', gate: 'Gate', affinity: 'Affinity', heads: 'Heads', selfattn: 'Self-attn', pam: 'PAM', chanattn: 'Ch. attn', crisscross: 'Criss-cross', psa: 'PSA', ema: 'EM', a2: 'A²', isa: 'ISA', lightnl: 'LightNL', sse: 'sSE', apnb: 'APNB', afnb: 'AFNB', rnl: 'RNL', nlsa: 'NLSA', san: 'SAN', stn: 'STN' };
/** Imported (ONNX) modules: what was found in the graph, e.g. "Channel+Spatial" for a CBAM. */
const PART_LABEL: Record<string, string> = {
  'channel-gate': 'Channel', 'spatial-gate': 'Spatial', gate: 'Gate', affinity: 'Affinity',
  'channel-affinity': 'Ch. affinity', heads: 'Heads', 'spatial-softmax': 'Softmax', components: 'Components',
  'spatial-transform': 'STN', 'criss-cross': 'Criss-cross',
};
/** Where the badge's short label needs the words in its title. */
const PART_LONG: Record<string, string> = { 'spatial-transform': 'spatial transformer' };
const PART_SHORT: Record<string, string> = { 'channel-gate': 'Ch', 'spatial-gate': 'Sp' };
const kindLabel = (m: ModuleInfo): string => {
  if (m.derived) return 'Rollout';
  if (!m.parts?.length) return KIND_LABEL[m.kind] ?? m.kind;
  if (m.parts.length === 1) return PART_LABEL[m.parts[0] as string] ?? (m.parts[0] as string);
  return m.parts.map((p) => PART_SHORT[p] ?? PART_LABEL[p] ?? p).join('+');
};

export function ModuleTree() {
  const a = useActions();
  const info = useApp((s) => s.model.info);
  const bypass = useApp((s) => s.modules.bypass);
  const hiddenCount = useApp((s) => s.modules.hidden.length);
  if (!info) return <div className="tree"><div className="placeholder" style={{ padding: 14 }}>Load a model to see its attention modules.</div></div>;
  const groups = groupByStage(info.modules);
  // Why an imported model shows nothing: what the importer found and refused, with its reason.
  const refused = (info.rejected ?? []).map((r) => `${r.node} (${r.reason})`);
  const allHidden = hiddenCount === info.modules.length;
  return (
    <>
      <div className="tree-head">
        <h2>Modules <span className="faint" style={{ fontWeight: 400 }}>{info.modules.length}</span></h2>
        <button className="btn ghost small" onClick={() => a.setAllVisible(true)} disabled={hiddenCount === 0}>Show all</button>
        <button className="btn ghost small" onClick={() => a.setAllVisible(false)} disabled={allHidden}>None</button>
      </div>
      <div className="tree" role="tree" aria-label="Attention modules">
        {groups.map((g, gi) => (
          <div className="stage" key={g.stage} role="group" aria-label={g.stage}>
            <div className="stage-head" onClick={() => a.focusStage(gi + 1)} title={gi < 9 ? `Focus ${g.stage} (${gi + 1})` : undefined}>
              {gi < 9 && <kbd>{gi + 1}</kbd>}
              <span>{g.stage}</span>
              <span className="count">{g.modules.length}</span>
            </div>
            {g.modules.map((m) => <ModuleRow key={m.name} m={m} />)}
          </div>
        ))}
        {info.modules.length === 0 && (
          <div className="placeholder" style={{ padding: 14 }} data-testid="no-modules">
            This model has no attention modules the engine recognises.
            {refused.length > 0 && (
              <>
                <div style={{ marginTop: 8 }}>Found, but not listed:</div>
                <ul className="refused">{refused.slice(0, 4).map((w) => <li key={w}>{w}</li>)}</ul>
                {refused.length > 4 && <div>and {refused.length - 4} more in the model menu.</div>}
              </>
            )}
          </div>
        )}
      </div>
      {bypass.length > 0 && (
        <div className="bypass-bar" data-testid="bypass-bar">
          <span>{bypass.length} bypassed</span>
          <span className="spacer" />
          <button className="btn small" onClick={() => a.clearBypass()}>Restore all</button>
        </div>
      )}
    </>
  );
}

function ModuleRow({ m }: { m: ModuleInfo }) {
  const a = useActions();
  const focused = useAppShallow((s) => (s.modules.focused?.module === m.name ? s.modules.focused.tap : null));
  const hidden = useApp((s) => s.modules.hidden.includes(m.name));
  const bypassed = useApp((s) => s.modules.bypass.includes(m.name));
  const have = useAppShallow((s) => Object.keys(s.run.taps[m.name] ?? {}) as TapName[]);
  return (
    <div
      className={`mod${focused ? ' focused' : ''}${hidden ? ' hidden' : ''}${bypassed ? ' bypassed' : ''}`}
      role="treeitem"
      aria-selected={!!focused}
      data-module={m.name}
      tabIndex={0}
      onClick={() => a.focus(m.name)}
      onKeyDown={(e) => {
        if (e.target !== e.currentTarget) return;
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); a.focus(m.name); }
      }}
    >
      <button
        className="eye"
        aria-pressed={!hidden}
        aria-label={`${hidden ? 'Show' : 'Hide'} ${m.name} overlay`}
        title={hidden ? 'Show overlay' : 'Hide overlay'}
        onClick={(e) => { e.stopPropagation(); a.toggleVisible(m.name); }}
      >
        {hidden ? <EyeOffIcon size={14} /> : <EyeIcon size={14} />}
      </button>
      <div className="mod-name">
        <span className="n" title={`${m.name} · ${m.channels} channels · ${m.mapSize[0]}×${m.mapSize[1]}`}>{m.name}</span>
        <span className={`badge kind-${m.kind}`} title={m.parts ? `Found in the ONNX graph: ${m.parts.map((p) => PART_LONG[p] ?? PART_LABEL[p] ?? p).join(', ').toLowerCase()}` : undefined}>{kindLabel(m)}</span>
      </div>
      {m.derived ? (
        <span className="bypass-wrap faint" title="Computed from the other modules' maps after the pass: nothing to bypass">derived</span>
      ) : (
        <label className="bypass-wrap" title="Bypass: re-run the network without this module" onClick={(e) => e.stopPropagation()}>
          <button
            role="switch"
            className="switch"
            aria-checked={bypassed}
            aria-label={`Bypass ${m.name}`}
            onClick={() => a.toggleBypass(m.name)}
          />
        </label>
      )}
      <div className="taps">
        {m.taps.map((t) => (
          <button
            key={t}
            className={`tapchip${have.includes(t) ? '' : ' pending'}`}
            aria-pressed={focused === t}
            onClick={(e) => { e.stopPropagation(); a.focus(m.name, t); }}
          >{t}</button>
        ))}
      </div>
    </div>
  );
}
