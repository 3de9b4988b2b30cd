#ifndef CURSES_SHIM_H
#define CURSES_SHIM_H
#include <stdint.h>

/* ncurses macros and globals that Swift 6 cannot use directly, as functions. */
int  cs_setlocale_utf8(void);
int  cs_can_run_fullscreen(char *why, int n);
int  cs_start(void);               /* newterm on the controlling tty; 0 on success */
void cs_end(void);                 /* endwin; safe to call twice */
int  cs_has_colors(void);
int  cs_colors(void);
void cs_size(int *rows, int *cols);
int  cs_term_size(int *rows, int *cols);   /* ioctl(TIOCGWINSZ) on stdout */
void cs_resize(int rows, int cols);
int  cs_pair(int fg, int bg);      /* a colour pair number for (fg, bg), allocated on demand; -1 = default */
void cs_put(int y, int x, const char *utf8, int pair, int bold, int dim, int reverse, int underline);
void cs_move_cursor(int y, int x, int visible);
void cs_refresh(void);
int  cs_get(int timeout_ms, uint32_t *out);  /* 1 char, 2 resize, 0 timeout, -1 error */
void cs_write_raw(const char *s);  /* straight to the terminal (kitty keyboard protocol switches) */
void cs_emergency_restore(void);   /* async-signal-safe-ish: leave alt screen, show cursor, reset modes */
#endif
