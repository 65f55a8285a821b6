// Several images at once: thumbnails to step through (← →).
import { useActions, useApp } from '../store';

export function Filmstrip() {
  const a = useActions();
  const list = useApp((s) => s.images.list);
  const currentId = useApp((s) => s.images.currentId);
  if (list.length < 2) return null;
  return (
    <nav className="filmstrip" aria-label="Images" data-testid="filmstrip">
      {list.map((img) => (
        <button key={img.id} className="film" aria-current={img.id === currentId} title={img.name} onClick={() => a.selectImage(img.id)}>
          {img.url ? <img src={img.url} alt="" draggable={false} onError={(e) => { e.currentTarget.style.visibility = 'hidden'; }} /> : null}
          <span className="nm">{img.name}</span>
          <span className="x" role="button" aria-label={`Remove ${img.name}`} onClick={(e) => { e.stopPropagation(); a.removeImage(img.id); }}>×</span>
        </button>
      ))}
    </nav>
  );
}
