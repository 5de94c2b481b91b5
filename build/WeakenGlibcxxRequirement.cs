// MSBuild task (compiled by RoslynCodeTaskFactory from Directory.Build.targets).
//
// Why: TorchSharp 0.107.0's libLibTorchSharp.so lists a version need on GLIBCXX_3.4.32 only because it
// references std::ios_base_library_init(), a symbol it never calls (no relocation uses it). Debian 12's
// libstdc++ stops at GLIBCXX_3.4.30, so the dynamic loader refuses the library. Marking that single
// version need as weak (VER_FLG_WEAK in vna_flags of .gnu.version_r) makes the loader accept it; nothing
// else in the file changes. Patching is idempotent: a flag already set is left as is.
using System;
using System.IO;
using System.Text;
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class WeakenGlibcxxRequirement : Task
{
    [Required] public string LibraryPath { get; set; } = "";
    public string VersionName { get; set; } = "GLIBCXX_3.4.32";

    const uint ShtGnuVerneed = 0x6ffffffe;
    const ushort VerFlgWeak = 0x2;

    public override bool Execute()
    {
        if (!File.Exists(LibraryPath)) return true;
        DateTime stamp = File.GetLastWriteTimeUtc(LibraryPath);
        byte[] elf = File.ReadAllBytes(LibraryPath);
        if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[4] != 2 || elf[5] != 1)
        {
            Log.LogWarning("{0} is not a 64-bit little-endian ELF file; not patched", LibraryPath);
            return true;
        }
        ulong shoff = BitConverter.ToUInt64(elf, 0x28);
        int shentsize = BitConverter.ToUInt16(elf, 0x3A);
        int shnum = BitConverter.ToUInt16(elf, 0x3C);
        for (int s = 0; s < shnum; s++)
        {
            int sh = checked((int)shoff + s * shentsize);
            if (BitConverter.ToUInt32(elf, sh + 4) != ShtGnuVerneed) continue;
            int secOffset = checked((int)BitConverter.ToUInt64(elf, sh + 0x18));
            int link = (int)BitConverter.ToUInt32(elf, sh + 0x28);
            int strtab = checked((int)BitConverter.ToUInt64(elf, (int)shoff + link * shentsize + 0x18));
            int need = secOffset;
            while (true)
            {
                int count = BitConverter.ToUInt16(elf, need + 2);
                int aux = need + (int)BitConverter.ToUInt32(elf, need + 8);
                for (int a = 0; a < count; a++)
                {
                    string name = ReadCString(elf, strtab + (int)BitConverter.ToUInt32(elf, aux + 8));
                    if (name == VersionName)
                    {
                        ushort flags = BitConverter.ToUInt16(elf, aux + 4);
                        if ((flags & VerFlgWeak) != 0) return true; // already patched
                        BitConverter.GetBytes((ushort)(flags | VerFlgWeak)).CopyTo(elf, aux + 4);
                        string tmp = LibraryPath + ".patching";
                        File.WriteAllBytes(tmp, elf);
                        File.Copy(tmp, LibraryPath, overwrite: true); // the task compiles against netstandard: no Move(overwrite)
                        File.Delete(tmp);
                        // Keep the copy's timestamp so MSBuild's incremental copy sees it unchanged next time.
                        File.SetLastWriteTimeUtc(LibraryPath, stamp);
                        Log.LogMessage(MessageImportance.High, "Marked {0} weak in {1}", VersionName, LibraryPath);
                        return true;
                    }
                    uint nextAux = BitConverter.ToUInt32(elf, aux + 12);
                    if (nextAux == 0) break;
                    aux += (int)nextAux;
                }
                uint nextNeed = BitConverter.ToUInt32(elf, need + 12);
                if (nextNeed == 0) break;
                need += (int)nextNeed;
            }
        }
        return true; // no such version need: a newer TorchSharp, nothing to do
    }

    static string ReadCString(byte[] data, int start)
    {
        int end = start;
        while (data[end] != 0) end++;
        return Encoding.ASCII.GetString(data, start, end - start);
    }
}
