// Installed first, in <head>: any later error is recorded in the DOM (the headless test reads it).
(function(){var r=document.documentElement;function note(m){var p=r.getAttribute('data-sparkprobe-errors');
r.setAttribute('data-sparkprobe-errors',(p?p+' | ':'')+m);}
window.addEventListener('error',function(e){note(String(e.message||e.type));});
window.addEventListener('unhandledrejection',function(e){
 note('unhandled rejection: '+String(e.reason));});})();
