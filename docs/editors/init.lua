-- storycoach: Neovim 0.7 (Debian 12) form; see the README for 0.8+ (vim.lsp.start).
local storycoach_id = nil
vim.api.nvim_create_autocmd("FileType", {
  pattern = "markdown",
  callback = function(args)
    storycoach_id = storycoach_id or vim.lsp.start_client({
      name = "storycoach",
      cmd = { "storycoach", "lsp" },
      root_dir = vim.fn.getcwd(),
      init_options = { level = "E5", storyFolders = { "stories" } },
    })
    vim.lsp.buf_attach_client(args.buf, storycoach_id)
    vim.bo[args.buf].omnifunc = "v:lua.vim.lsp.omnifunc" -- <C-x><C-o> in front matter
  end,
})
vim.keymap.set("n", "K", vim.lsp.buf.hover)
vim.keymap.set("n", "<leader>a", vim.lsp.buf.code_action)
