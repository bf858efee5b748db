namespace Lathe.IO;

/// <summary>CRC-32 as PNG chunks (charts, Vision/Images/Png) carry it (ISO 3309 / ITU-T V.42: reflected polynomial 0xEDB88320, initial and final
/// XOR 0xFFFFFFFF — PNG specification, Annex D). System.IO.Hashing would do it but is not a package this repo pins.
/// </summary>
internal static class Crc32
{
    static readonly uint[] Table = BuildTable();

    static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }

    /// <summary>Continues a running CRC (start from 0) over more bytes.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> bytes)
    {
        uint c = ~crc;
        foreach (byte b in bytes) c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        return ~c;
    }

    public static uint Compute(ReadOnlySpan<byte> bytes) => Append(0, bytes);
}
