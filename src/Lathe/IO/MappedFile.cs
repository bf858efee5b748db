using System.IO.MemoryMappedFiles;

namespace Lathe.IO;

/// <summary>A whole file mapped read-only into memory, as a pointer and a length: how Lathe opens weights, shards and
/// model files without reading them (pages load on first touch). Dispose unmaps it.</summary>
public sealed unsafe class MappedFile : IDisposable
{
    readonly MemoryMappedFile _map;
    readonly MemoryMappedViewAccessor _view;

    public string Path { get; }
    public long Length { get; }
    /// <summary>The first byte of the file.</summary>
    public byte* Pointer { get; }

    MappedFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* pointer)
    {
        Path = path; Length = length; _map = map; _view = view; Pointer = pointer;
    }

    /// <summary>Maps <paramref name="path"/>; the file must exist and be non-empty.</summary>
    public static MappedFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file.", path);
        long length = new FileInfo(path).Length;
        if (length == 0) throw new InvalidDataException($"{path}: the file is empty.");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        return new MappedFile(path, length, map, view, p + view.PointerOffset);
    }

    public ReadOnlySpan<byte> Span(long offset, int length) => new(Pointer + offset, length);

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
