namespace NtkDsl.Backends;

/// <summary>
/// Scratch tensors for generated code, kept between calls so that repeated calls with the same batch
/// sizes allocate nothing. Generated code names its buffers by slot number; a slot is reallocated only
/// when the requested shape changes. Not thread-safe: use one workspace per thread.
/// </summary>
/// <typeparam name="TTensor">The backend's tensor handle.</typeparam>
public sealed class Workspace<TTensor>
{
    private TTensor[] _buffers = [];
    private (int Rows, int Cols)[] _shapes = [];
    private bool[] _allocated = [];

    /// <summary>Elements held by all buffers together (what <see cref="Clear"/> releases).</summary>
    public long HeldElements { get; private set; }

    /// <summary>The [rows, cols] buffer of <paramref name="slot"/>; contents are unspecified (callers overwrite them).</summary>
    public TTensor Get<TBackend>(TBackend backend, int slot, int rows, int cols) where TBackend : ITensorBackend<TTensor>
    {
        if (slot >= _buffers.Length)
        {
            Array.Resize(ref _buffers, slot + 8);
            Array.Resize(ref _shapes, slot + 8);
            Array.Resize(ref _allocated, slot + 8);
        }

        if (!_allocated[slot] || _shapes[slot] != (rows, cols))
        {
            if (_allocated[slot])
            {
                (_buffers[slot] as IDisposable)?.Dispose();
                HeldElements -= (long)_shapes[slot].Rows * _shapes[slot].Cols;
            }

            _buffers[slot] = backend.Allocate(rows, cols);
            HeldElements += (long)rows * cols;
            _shapes[slot] = (rows, cols);
            _allocated[slot] = true;
        }

        return _buffers[slot];
    }

    /// <summary>Releases the buffers (disposes them when the tensor type is disposable, e.g. torch tensors).</summary>
    public void Clear()
    {
        for (int i = 0; i < _buffers.Length; i++)
            if (_allocated[i]) (_buffers[i] as IDisposable)?.Dispose();
        _buffers = [];
        _shapes = [];
        _allocated = [];
        HeldElements = 0;
    }
}
